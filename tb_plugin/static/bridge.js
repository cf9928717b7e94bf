// TensorBoard's iframe-plugin message protocol, implemented directly (its guest library is not
// published): post "experimental.bootstrap" to the parent with a transferred MessagePort; on
// that port messages are JSON strings {type, id, payload, error, isReply}. The host broadcasts
// "experimental.DataReloaded" when the user (or auto-reload) reloads, and expects a reply to
// every message it sends.

const BOOTSTRAP = "experimental.bootstrap";

function sameOriginParent() {
  try {
    return window.parent !== window && window.parent.location.origin === window.location.origin;
  } catch (_) {
    return false; // a cross-origin parent is not TensorBoard
  }
}

/**
 * Connects to TensorBoard. `handlers` maps message types to functions of the payload (their
 * result is sent back as the reply). Returns {send(type, payload)}, or null outside TensorBoard.
 */
export function connectTensorBoard(handlers) {
  if (!sameOriginParent() || typeof MessageChannel !== "function") return null;
  const channel = new MessageChannel();
  const port = channel.port1;
  let nextId = 0;
  const waiting = new Map();

  const post = (message) => port.postMessage(JSON.stringify(message));

  port.addEventListener("message", async (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    if (!message || typeof message !== "object") return;
    const { type, id, payload, error, isReply } = message;
    if (isReply) {
      const pending = waiting.get(id);
      if (!pending) return;
      waiting.delete(id);
      if (error) pending.reject(new Error(String(error)));
      else pending.resolve(payload);
      return;
    }
    let replyPayload = null;
    let replyError = null;
    const handler = handlers[type];
    if (handler) {
      try {
        const result = await handler(payload);
        replyPayload = result === undefined ? null : result;
      } catch (e) {
        replyError = e && e.message ? e.message : String(e);
      }
    }
    post({ type, id, payload: replyPayload, error: replyError, isReply: true });
  });
  port.start();
  const origin = window.location.origin === "null" ? "*" : window.location.origin;
  window.parent.postMessage(BOOTSTRAP, origin, [channel.port2]);

  return {
    send(type, payload = null) {
      const id = nextId++;
      post({ type, id, payload, error: null, isReply: false });
      return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
    },
  };
}
