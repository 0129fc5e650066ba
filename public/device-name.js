// A name for this device from what the browser says of itself: "Chrome on Android", "Safari on
// iPhone". Only the name is sent to the server, never the User-Agent itself.

// Checked in order: Edge, Opera and Samsung Internet also say Chrome, Chrome also says Safari.
const BROWSERS = [
  [/Edg(A|iOS)?\//, 'Edge'],
  [/OPR\/|OPT\//, 'Opera'],
  [/SamsungBrowser\//, 'Samsung Internet'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/Chrome\/|CriOS\//, 'Chrome'],
  [/Safari\//, 'Safari'],
];
const SYSTEMS = [
  [/iPhone/, 'iPhone'],
  [/iPad/, 'iPad'],
  [/Android/, 'Android'],
  [/Windows/, 'Windows'],
  [/CrOS|Chrome OS/, 'ChromeOS'],
  [/Mac OS X|Macintosh|macOS/, 'macOS'],
  [/Linux/, 'Linux'],
];

const first = (table, text) => table.find(([pattern]) => pattern.test(text))?.[1];

/** "Browser on System" for this browser; the platform from navigator.userAgentData when given. */
export function guessDeviceName(nav = navigator) {
  const agent = nav.userAgent ?? '';
  const browser = first(BROWSERS, agent) ?? 'Browser';
  // An iPad asks for desktop pages: it says Macintosh, but has a touch screen.
  const ipad = /Macintosh/.test(agent) && nav.maxTouchPoints > 1;
  const platform = nav.userAgentData?.platform;
  const system = ipad ? 'iPad' : (first(SYSTEMS, platform || agent) ?? first(SYSTEMS, agent));
  return system ? `${browser} on ${system}` : browser;
}
