const express = require('express')
const app = express()

app.post('/api/chat', (req, res) => res.json({ ok: true }))
app.get('/v1/chat/completions', (req, res) => res.status(404).end())
const port = 114340
