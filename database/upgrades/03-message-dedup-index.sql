-- v3: Cover bridgev2's duplicate check of Matrix events with an index on SQLite
-- bridgev2 looks every Matrix event up by its receiver and (mxid OR send_txn_id) before handling it
-- (deduplicate_matrix_messages, which matrix-cpim turns on). SQLite answers that OR by reading every
-- message row of the receiver, a cost that grows with the history; with this index it reads only
-- index entries. PostgreSQL combines the existing indexes and needs none.
-- only: sqlite
CREATE INDEX cpim_message_dedup_idx ON message (bridge_id, room_receiver, mxid, send_txn_id);
-- only: postgres
SELECT 1;
