export const enum ParseStatus { OK = 0, NEED_MORE = 1, MALFORMED = 2, NOT_MINE = 3 }
