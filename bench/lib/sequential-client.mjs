// One request at a time over one keep-alive connection, timed with hrtime: the latency
// distribution at concurrency 1 in microseconds (autocannon's histogram keeps whole
// milliseconds). Usage: node sequential-client.mjs URL BODY_FILE SECONDS → JSON on stdout.
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { URL } from 'node:url'

const [url, bodyFile, seconds] = process.argv.slice(2)
const body = readFileSync(bodyFile)
const target = new URL(url)
const agent = new Agent({ keepAlive: true, maxSockets: 1 })

function once() {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        res.resume()
        res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - started) / 1000) : reject(new Error(`status ${res.statusCode}`))))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

for (let i = 0; i < 200; i++) await once() // Warm-up.
const latencies = []
const until = Date.now() + Number(seconds) * 1000
while (Date.now() < until) latencies.push(await once())
latencies.sort((a, b) => a - b)
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
process.stdout.write(JSON.stringify({ requests: latencies.length, perSecond: latencies.length / Number(seconds), p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999) }))
agent.destroy()
