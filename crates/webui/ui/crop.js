// The crop editor of the input pane: the whole photo with the square the
// pipeline chose (face framing when it found a face) drawn on it. The
// square can be dragged, moved and resized with the keyboard or the
// buttons, and reset; every change asks the server for a new preview made
// by the same pipeline (`CropMode::Box`) and the import sends the square.
//
// Coordinates are upright source pixels, as the pipeline reports them.

const $ = (id) => document.getElementById(id);

/** Steps: a move is 5 % of the square (at least 1 px), a resize 10 %. */
const MOVE = 0.05;
const RESIZE = 1.1;
/** The smallest square the editor makes (source pixels). */
const MIN_SIDE = 16;

export function createCropEditor({ onChange }) {
  const root = $('crop');
  const stage = $('crop-stage');
  const source = $('crop-source');
  const box = $('crop-box');
  const info = $('crop-info');
  let photo = null;   // {width, height, original: {x, y, side}, framing, faces}
  let crop = null;    // the current square
  let blobUrl = null;

  const same = (a, b) => a && b && Math.abs(a.x - b.x) < 0.5 && Math.abs(a.y - b.y) < 0.5 && Math.abs(a.side - b.side) < 0.5;

  // Whole source pixels: the square shown ("369×369") is the square sent
  // and written, never one pixel less from a fraction rounded down.
  function clamp(c) {
    const maxSide = Math.min(photo.width, photo.height);
    const side = Math.round(Math.max(Math.min(c.side, maxSide), Math.min(MIN_SIDE, maxSide)));
    return {
      x: Math.round(Math.min(Math.max(c.x, 0), photo.width - side)),
      y: Math.round(Math.min(Math.max(c.y, 0), photo.height - side)),
      side,
    };
  }

  function describe() {
    const where = `${Math.round(crop.side)}×${Math.round(crop.side)} px square at ${Math.round(crop.x)}, ${Math.round(crop.y)}`;
    if (!same(crop, photo.original)) return `Adjusted by hand: ${where}.`;
    const n = photo.faces.length;
    switch (photo.framing) {
      case 'face': return `Framed on the face${n > 1 ? ` (the largest of ${n})` : ''}: ${where}.`;
      case 'upper_centre': return `No face found: the upper-centre square, ${where}.`;
      case 'box': return `The square asked for: ${where}.`;
      default: return `The centred square: ${where}.`;
    }
  }

  function render() {
    const nudged = !same(crop, photo.original);
    box.dataset.x = String(Math.round(crop.x));
    box.dataset.y = String(Math.round(crop.y));
    box.dataset.side = String(Math.round(crop.side));
    root.dataset.nudged = nudged ? 'true' : 'false';
    // Positions in per cent of the photo, so the drawing follows any layout
    // (CSSOM properties, which the CSP allows, not style attributes).
    box.style.left = `${(crop.x / photo.width) * 100}%`;
    box.style.top = `${(crop.y / photo.height) * 100}%`;
    box.style.width = `${(crop.side / photo.width) * 100}%`;
    box.style.height = `${(crop.side / photo.height) * 100}%`;
    info.textContent = describe();
    $('crop-reset').disabled = !nudged;
  }

  let timer = null;
  function set(next, { now = false } = {}) {
    crop = clamp(next);
    render();
    clearTimeout(timer);
    const send = () => onChange(same(crop, photo.original) ? null : { ...crop });
    if (now) send(); else timer = setTimeout(send, 200);
  }

  const move = (dx, dy) => {
    const step = Math.max(1, Math.round(crop.side * MOVE));
    set({ ...crop, x: crop.x + dx * step, y: crop.y + dy * step });
  };
  const resize = (factor) => {
    const side = crop.side * factor;
    set({ x: crop.x + (crop.side - side) / 2, y: crop.y + (crop.side - side) / 2, side });
  };
  const reset = () => set({ ...photo.original }, { now: true });

  // Buttons (for pointer and keyboard users alike).
  const actions = {
    'crop-left': () => move(-1, 0),
    'crop-right': () => move(1, 0),
    'crop-up': () => move(0, -1),
    'crop-down': () => move(0, 1),
    // Zooming in shows less of the photo: a smaller square, a closer face.
    'crop-zoom-in': () => resize(1 / RESIZE),
    'crop-zoom-out': () => resize(RESIZE),
    'crop-reset': reset,
  };
  for (const [id, act] of Object.entries(actions)) {
    $(id).addEventListener('click', () => { if (photo) act(); });
  }

  // The square itself: arrow keys move, + zooms in and − out, Home resets.
  box.addEventListener('keydown', (e) => {
    if (!photo) return;
    const keys = {
      ArrowLeft: () => move(-1, 0), ArrowRight: () => move(1, 0),
      ArrowUp: () => move(0, -1), ArrowDown: () => move(0, 1),
      '+': () => resize(1 / RESIZE), '=': () => resize(1 / RESIZE),
      '-': () => resize(RESIZE), '_': () => resize(RESIZE),
      Home: reset,
    };
    const act = keys[e.key];
    if (act) { e.preventDefault(); act(); }
  });

  // Dragging: pointer movement over the drawn photo, scaled to source pixels.
  let drag = null;
  box.addEventListener('pointerdown', (e) => {
    if (!photo) return;
    e.preventDefault();
    box.setPointerCapture(e.pointerId);
    box.focus();
    drag = { px: e.clientX, py: e.clientY, start: { ...crop } };
    root.classList.add('dragging');
  });
  box.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const r = source.getBoundingClientRect();
    const sx = photo.width / r.width;
    const sy = photo.height / r.height;
    set({ ...drag.start, x: drag.start.x + (e.clientX - drag.px) * sx, y: drag.start.y + (e.clientY - drag.py) * sy });
  });
  const endDrag = () => {
    if (!drag) return;
    drag = null;
    root.classList.remove('dragging');
    set(crop, { now: true });
  };
  box.addEventListener('pointerup', endDrag);
  box.addEventListener('pointercancel', endDrag);

  return {
    /** Shows `file` (a File or Blob) with the upload's square. */
    show(file, upload) {
      photo = {
        width: upload.width,
        height: upload.height,
        original: { ...upload.crop },
        framing: upload.framing,
        faces: upload.faces || [],
      };
      crop = { ...photo.original };
      clearTimeout(timer);
      if (blobUrl) URL.revokeObjectURL(blobUrl);
      blobUrl = URL.createObjectURL(file);
      // The browser draws the photo itself; when it cannot (TIFF) or does
      // not turn it upright like the pipeline, only the buttons are shown —
      // they still work, and the preview shows the result.
      stage.hidden = true;
      source.onload = () => {
        const a = source.naturalWidth / source.naturalHeight;
        const b = photo.width / photo.height;
        stage.hidden = Math.abs(a - b) > 0.02 * b;
      };
      source.onerror = () => { stage.hidden = true; };
      source.src = blobUrl;
      root.hidden = false;
      render();
    },
    /** Hides the editor (no photo). */
    hide() {
      photo = null;
      crop = null;
      clearTimeout(timer);
      if (blobUrl) URL.revokeObjectURL(blobUrl);
      blobUrl = null;
      source.onload = null;
      source.onerror = null;
      source.removeAttribute('src');
      stage.hidden = true;
      root.hidden = true;
      delete root.dataset.nudged;
      info.textContent = '';
    },
    /** The square to send with the import (the pipeline's own, or nudged). */
    value() { return crop ? { x: crop.x, y: crop.y, side: crop.side } : null; },
  };
}
