// QR codes of pairing links. uqr is imported on first use: only pairing needs it.

/** An SVG QR code of `text` as a data: URL (the page's CSP allows img-src data:). */
export async function qrDataUrl(text: string): Promise<string> {
  const { renderSVG } = await import('uqr');
  // ISO/IEC 18004 asks for a 4-module quiet zone: the page around it may be dark.
  const svg = renderSVG(text, { border: 4, pixelSize: 8 });
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
}

/** A QR code of `text` in Unicode half blocks, two modules a line, light on a dark terminal. */
export async function qrTerminal(text: string): Promise<string> {
  const { renderUnicodeCompact } = await import('uqr');
  return renderUnicodeCompact(text, { border: 2 });
}
