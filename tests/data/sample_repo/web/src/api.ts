import { Ollama } from 'ollama'

const ollama = new Ollama({ host: 'http://ollama:11434' })

export async function summarize(text: string) {
  // fetch('http://localhost:11434/api/chat') was the first version
  return ollama.chat({ model: 'llama3.1:8b', messages: [{ role: 'user', content: text }] })
}
