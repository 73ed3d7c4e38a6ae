import { createHash } from 'node:crypto';

/** Initials from the name ("Ana Silva" → "AS"), else the handle's first character, else none. */
export function initialsOf(name: string | null | undefined, username: string | null | undefined): string {
  const letters = (text: string) => [...text.normalize('NFC')].filter((c) => /\p{L}|\p{N}/u.test(c));
  const words = (name ?? '').trim().split(/\s+/).filter(Boolean).slice(0, 40);
  const fromName = words.map((word) => letters(word)[0]).filter(Boolean);
  if (fromName.length) return [fromName[0], fromName.length > 1 ? fromName.at(-1) : ''].join('').toUpperCase();
  return (letters((username ?? '').slice(0, 64))[0] ?? '').toUpperCase();
}

/**
 * A 96×96 SVG: the person's initials on a colour of their own (from the IGSID), or a neutral
 * silhouette when nothing is known. Only letters and digits ever reach the markup.
 */
export function placeholderSvg(igsid: string, initials: string): Buffer {
  const hue = createHash('sha256').update(igsid).digest().readUInt16BE(0) % 360;
  const body = initials
    ? `<rect width="96" height="96" fill="hsl(${hue} 45% 45%)"/><text x="48" y="48" dy=".35em" text-anchor="middle" font-family="system-ui,sans-serif" font-size="40" fill="#fff">${initials}</text>`
    : '<rect width="96" height="96" fill="#c7ccd1"/><circle cx="48" cy="38" r="18" fill="#f2f3f5"/><path d="M16 92c4-20 18-30 32-30s28 10 32 30z" fill="#f2f3f5"/>';
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">${body}</svg>`);
}
