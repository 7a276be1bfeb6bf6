"""Where Great Expectations keeps its project: in memory (no Data Docs), or a file-backed project on disk.

A file-backed project (``gx.get_context(mode="file")``) keeps every validation result under
``<project>/gx/uncommitted/validations``; the Data Docs site (``<project>/data_docs``) is rebuilt from all of
them, so results written by several processes (migrate runs, the baseline monitor, ``o2v check validation``)
accumulate as pages and history instead of the last process's index hiding the others.

Several processes may share a project: each GX call sequence runs under an exclusive ``flock`` on
``<project>/.o2v-gx.lock`` (GX writes its JSON stores without one), and under an in-process lock because
Prefect may run tasks in threads. One context per project and process, created on first use: GX takes
seconds to import and set up.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DATASOURCE = "o2v"
SITE = "o2v_site"
_LOCK = threading.RLock()
_CONTEXTS: dict[str, Any] = {}


def project_dir_for(settings: Any) -> Path:
    """The GX project of a configuration: next to the SQLite store file, else under the workdir."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.store.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().resolve().parent / "gx"
    return Path(settings.workdir).resolve() / "gx"


def docs_index(project_dir: Path) -> Path:
    return Path(project_dir).resolve() / "data_docs" / "index.html"


def docs_link(page: str | None, project_dir: Path | None, base_url: str | None) -> str | None:
    """A link a person can open: ``base_url`` + the page's path inside the Data Docs site, else the file path."""
    if page is None:
        return None
    if base_url and project_dir is not None:
        site = docs_index(project_dir).parent
        try:
            relative = Path(page).resolve().relative_to(site).as_posix()
        except ValueError:
            return page
        return base_url.rstrip("/") + "/" + relative
    return page


@contextmanager
def gx_context(project_dir: Path | None) -> Iterator[Any]:
    """The context for ``project_dir`` (ephemeral when None), held exclusively for the duration of the block."""
    with _LOCK:
        if project_dir is None:
            yield _context(None)
            return
        root = Path(project_dir).resolve()
        root.mkdir(parents=True, exist_ok=True)
        with (root / ".o2v-gx.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield _context(root)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def batch_definition(context: Any) -> Any:
    return context.data_sources.get(DATASOURCE).get_asset("samples").get_batch_definition("window")


def _context(root: Path | None) -> Any:
    key = str(root) if root is not None else ""
    if key not in _CONTEXTS:
        _CONTEXTS[key] = _ephemeral() if root is None else _file_backed(root)
    return _CONTEXTS[key]


def _ephemeral() -> Any:
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    _quiet(context)
    _add_datasource(context)
    return context


def _file_backed(root: Path) -> Any:
    import great_expectations as gx

    context = gx.get_context(mode="file", project_root_dir=str(root))
    _quiet(context)
    if DATASOURCE not in [ds.name for ds in context.data_sources.all().values()]:
        _add_datasource(context)
    if SITE not in (context.list_data_docs_sites() or {}):
        site = root / "data_docs"
        site.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
        context.add_data_docs_site(SITE, config)  # type: ignore[arg-type]  # GX types a subset of the keys
    return context


def _quiet(context: Any) -> None:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)


def _add_datasource(context: Any) -> None:
    context.data_sources.add_pandas(DATASOURCE).add_dataframe_asset("samples").add_batch_definition_whole_dataframe(
        "window"
    )
