/** Decoded, oriented, sRGB 8-bit RGB pixels (alpha flattened), row-major, 3 bytes per pixel. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** What the source file is, as decoded: written into the record's `image` field. */
export interface ImageFacts {
  /** Container format detected from the bytes (never the file name): jpeg, png, webp, gif, tiff, avif, svg. */
  readonly format: string;
  /** Width and height after EXIF orientation, in pixels of the original image. */
  readonly width: number;
  readonly height: number;
  /** EXIF orientation tag 1-8 as found (1 when absent). */
  readonly orientation: number;
  readonly hasAlpha: boolean;
  /** Number of pages or frames (1 for still images). */
  readonly pages: number;
  readonly animated: boolean;
  /** Colour space of the source as sharp reports it (srgb, cmyk, b-w, rgb16...). */
  readonly space: string;
  /** Bits per sample of the source (8, 16). */
  readonly bitsPerSample: number;
}

export interface IntakeResult {
  readonly facts: ImageFacts;
  /** Pixels for inference, longest side at most the configured working size. */
  readonly image: RgbImage;
}
