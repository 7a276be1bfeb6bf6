#!/bin/sh
curl -s http://127.0.0.1:11434/api/tags
curl -s http://127.0.0.1:11434/v1/chat/completions -d @body.json
# curl http://127.0.0.1:11434/api/ps
echo "done"
