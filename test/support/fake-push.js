// Runs in the page before its own scripts (addInitScript; see fake-push.ts). Real
// pushManager.subscribe() needs the browser vendor's push service, which is not reachable offline,
// so subscribe() asks the test push service for a subscription through an exposed binding and
// keeps it in localStorage, as the browser would keep its own. Everything after it is real.
(() => {
  const options = globalThis.__fakePushOptions ?? {};
  const STORAGE_KEY = options.storageKey;

  if (options.permission === 'denied') {
    // The person clicks "Block" in the permission prompt.
    let permission = 'default';
    Object.defineProperty(Notification, 'permission', { get: () => permission });
    Notification.requestPermission = async () => {
      permission = 'denied';
      return permission;
    };
  }

  const toBytes = (key) => {
    if (typeof key === 'string') {
      const base64 = key.replace(/-/g, '+').replace(/_/g, '/');
      return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    }
    return new Uint8Array(ArrayBuffer.isView(key) ? key.buffer : key);
  };
  const toBase64Url = (bytes) =>
    btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');

  const wrap = ({ json, key }) => ({
    endpoint: json.endpoint,
    expirationTime: json.expirationTime,
    options: { userVisibleOnly: true, applicationServerKey: toBytes(key).buffer },
    getKey: (name) => toBytes(json.keys[name]).buffer,
    toJSON: () => json,
    unsubscribe: async () => {
      localStorage.removeItem(STORAGE_KEY);
      return true;
    },
  });
  const stored = () => {
    const text = localStorage.getItem(STORAGE_KEY);
    return text ? JSON.parse(text) : null;
  };

  PushManager.prototype.permissionState = async () => {
    const permission = Notification.permission;
    return permission === 'default' ? 'prompt' : permission;
  };
  PushManager.prototype.getSubscription = async () => {
    const state = stored();
    return state ? wrap(state) : null;
  };
  PushManager.prototype.subscribe = async (subscribeOptions = {}) => {
    if (Notification.permission !== 'granted') {
      throw new DOMException('Registration failed - permission denied', 'NotAllowedError');
    }
    if (!subscribeOptions.applicationServerKey) {
      throw new DOMException('Registration failed - missing applicationServerKey', 'AbortError');
    }
    const key = toBase64Url(toBytes(subscribeOptions.applicationServerKey));
    const current = stored();
    // Like Chromium: the same key gives back the same subscription; another key is an error.
    if (current && current.key !== key) {
      throw new DOMException(
        'Registration failed - different applicationServerKey',
        'InvalidStateError',
      );
    }
    const state = current ?? { json: await globalThis.__fakePushSubscribe(), key };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    return wrap(state);
  };
})();
