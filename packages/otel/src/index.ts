export {
  type DlockInstrumentation,
  type InstrumentDlockOptions,
  instrumentDlock,
} from './instrument.js';
export { ATTR, METRIC, SPAN } from './names.js';
