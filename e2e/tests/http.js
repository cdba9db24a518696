// Raw HTTP requests (node:http), so a test can send any Host or Origin.
import http from 'node:http';
import net from 'node:net';

export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: false,
    }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', (e) => {
      // The server may answer 413 and close before the whole body is sent.
      if (e.code === 'EPIPE' || e.code === 'ECONNRESET') resolve({ status: 0, error: e.code });
      else reject(e);
    });
    if (body) req.write(body);
    req.end();
  });
}

// The status code of a GET written by hand, header lines as given (node's
// client will not send two Host headers).
export function rawStatus(url, headerLines) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const socket = net.connect(Number(u.port), u.hostname, () => {
      socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\n${headerLines.join('\r\n')}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (d) => { text += d.toString('latin1'); });
    socket.on('end', () => resolve(Number((text.match(/^HTTP\/1\.1 (\d{3})/) || [])[1] || 0)));
    socket.on('error', reject);
  });
}
