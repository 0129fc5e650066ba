import jsQRModule from 'jsqr';

// A CommonJS package whose types declare an ES default export: under nodenext the default
// import is module.exports, which is the function itself (it also has itself as .default).
const jsQR = jsQRModule.default;

const SCALE = 4;
const MARGIN = 4;

/**
 * Reads back a QR code drawn with Unicode half blocks (src/qr.ts): a block is light (it is drawn in
 * the terminal's light text colour), a space dark; each character holds two rows of modules.
 */
export function decodeTerminalQr(text: string): string | undefined {
  const lines = text.split(/\r?\n/).filter((line) => /^[█▀▄ ]+$/.test(line) && line.trim() !== '');
  const rows: boolean[][] = [];
  for (const line of lines) {
    const chars = [...line];
    rows.push(chars.map((c) => c === '█' || c === '▀'));
    rows.push(chars.map((c) => c === '█' || c === '▄'));
  }
  const size = Math.max(0, ...rows.map((row) => row.length));
  return decodeModules(size, rows.length, (x, y) => rows[y]?.[x] ?? true);
}

/** Reads a QR code from RGBA pixels (a canvas's getImageData). */
export function decodePixels(
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
): string | undefined {
  return jsQR(rgba, width, height)?.data;
}

/** Draws `light(x, y)` modules at SCALE pixels each, in a light margin, and decodes that. */
function decodeModules(
  width: number,
  height: number,
  light: (x: number, y: number) => boolean,
): string | undefined {
  const w = (width + 2 * MARGIN) * SCALE;
  const h = (height + 2 * MARGIN) * SCALE;
  const pixels = new Uint8ClampedArray(w * h * 4).fill(255);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (light(x, y)) continue;
      for (let dy = 0; dy < SCALE; dy++) {
        const start = (((y + MARGIN) * SCALE + dy) * w + (x + MARGIN) * SCALE) * 4;
        for (let i = 0; i < SCALE * 4; i += 4) pixels.fill(0, start + i, start + i + 3);
      }
    }
  }
  return decodePixels(pixels, w, h);
}
