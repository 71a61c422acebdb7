/**
 * SVG is rasterised only when it is self-contained: every reference must be an in-document
 * fragment (`#id`) or a `data:` URI. Anything that could make the renderer reach outside the bytes
 * we were given (http(s), file paths, relative paths, XML entities, CSS @import) is refused before
 * librsvg sees the document. This is the first of two layers: librsvg, given a buffer with no
 * base URL, also refuses to load external resources (tested in test/unit/image/svg.test.ts).
 */

/** Why the SVG is refused, or undefined when it is self-contained. */
export function svgExternalReference(svgText: string): string | undefined {
  if (/<!ENTITY/i.test(svgText)) return 'it declares XML entities';
  if (/@import/i.test(svgText)) return 'its CSS uses @import';

  // href / xlink:href / any-prefix:href, and src, in single or double quotes.
  const attribute = /(?:^|[\s"'])(?:[\w.-]+:)?(href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;
  for (const match of svgText.matchAll(attribute)) {
    const value = (match[2] ?? match[3] ?? '').trim();
    if (!isInternal(value)) return `it references "${shorten(value)}" (${match[1]})`;
  }

  // url(...) in presentation attributes, style attributes and <style> elements.
  for (const match of svgText.matchAll(/url\s*\(\s*(['"]?)([^'")]*)\1\s*\)/gi)) {
    const value = (match[2] ?? '').trim();
    if (!isInternal(value)) return `it references "${shorten(value)}" (url())`;
  }
  // CSS escapes can spell "url" or a scheme in ways the check above cannot see.
  if (/<style[\s>][\s\S]*?\\[\s\S]*?<\/style>|style\s*=\s*("[^"]*\\[^"]*"|'[^']*\\[^']*')/i.test(svgText))
    return 'its CSS contains escape sequences';
  return undefined;
}

const isInternal = (value: string) => value.startsWith('#') || /^data:/i.test(value);

const shorten = (value: string) => (value.length > 60 ? `${value.slice(0, 57)}...` : value);
