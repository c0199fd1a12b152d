export type { MysqlConnectionLike, MysqlPoolLike } from './mysql-pool.js';
export { type MysqlSegment, type MysqlSegmentOptions, mysqlSegment } from './mysql-segment.js';
export { type MysqlTicket, type MysqlTicketOptions, mysqlTicket } from './mysql-ticket.js';
export type { SegmentGenerator } from './segment-buffer.js';
