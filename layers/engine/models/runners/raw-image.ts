import { RawImage } from '@huggingface/transformers';
import { expected, InferenceError } from '../../errors.ts';
import type { RgbImage } from '../../image/types.ts';

/** The engine's decoded pixels as a transformers.js image, without copying or re-decoding. */
export function toRawImage(image: RgbImage): RawImage {
  if (image.data.length !== image.width * image.height * 3) {
    throw new InferenceError(
      expected(
        `${image.width * image.height * 3} bytes (width × height × 3)`,
        'image.data',
        image.data.length,
      ),
    );
  }
  return new RawImage(image.data, image.width, image.height, 3);
}
