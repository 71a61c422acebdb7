/** Questions and categories: the config file and which answers a record should hold. */

export {
  asksQuestions,
  DEFAULT_QUESTIONS_FILE,
  hasCategoryPrompts,
  loadQuestionsFile,
  type QuestionsConfig,
  readQuestionsConfig,
} from './config.ts';
export { currentQuestionKeys } from './stage.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = [];
