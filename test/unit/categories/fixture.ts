import { parseQuestionsConfig } from '#engine/questions/config.ts';

/** The category fixture: a list where the red image lands in red-things and nowhere else. */
export const { categories: COLOUR_CATEGORIES } = parseQuestionsConfig(
  {
    categories: [
      { id: 'blue-things', label: 'Blue things' },
      { id: 'red-things', label: 'Red things', keywords: ['crimson', 'scarlet'] },
      { id: 'animals', label: 'Animals', keywords: ['dog', 'cat', 'horse'] },
      { id: 'documents', label: 'Documents', keywords: ['page', 'invoice', 'text'] },
    ],
  },
  'test',
);
