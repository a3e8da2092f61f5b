// api.js -- the console's only way to the node: the Connect protocol's unary
// JSON form on the node's own listener (POST /axle.v1.<Service>/<Method>,
// proto3 JSON), the same handlers as gRPC. The TLS client certificate is the
// authentication; Connect's own header Connect-Protocol-Version is what a
// cross-site page cannot send without a CORS preflight the node refuses, and
// the node also checks Origin and Sec-Fetch-Site (docs/security.md).

const PROTOCOL_HEADER = 'Connect-Protocol-Version';

export class RpcError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

export async function call(service, method, body) {
  let resp;
  try {
    resp = await fetch(`/axle.v1.${service}/${method}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', [PROTOCOL_HEADER]: '1' },
      body: JSON.stringify(body || {}),
    });
  } catch (e) {
    throw new RpcError('unavailable', `the node did not answer (${e.message})`);
  }
  const text = await resp.text();
  let data = {};
  if (text) {
    try { data = JSON.parse(text); } catch (e) {
      throw new RpcError('internal', `not JSON from the node (HTTP ${resp.status})`);
    }
  }
  // A Connect error object: {"code": "permission_denied", "message": "..."}.
  if (!resp.ok) throw new RpcError(data.code || `http ${resp.status}`, data.message);
  return data;
}

export const recourse = (m, b) => call('Recourse', m, b);
export const registry = (m, b) => call('Registry', m, b);
export const node = (m, b) => call('Node', m, b);
export const sw = (m, b) => call('Switch', m, b);

// Who am I (identity, role) and which node: asked once per page load.
let infoPromise = null;
export function whoami() {
  if (!infoPromise) infoPromise = node('Info', {}).catch((e) => { infoPromise = null; throw e; });
  return infoPromise;
}
