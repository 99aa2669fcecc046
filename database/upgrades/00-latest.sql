-- v0 -> v1: Latest revision

-- Messages accepted from gateways. A row is written before the gateway is told 202 Accepted, so an
-- accepted message survives a crash; (gateway, idem_key) makes a gateway's retry a no-op.
CREATE TABLE cpim_inbound (
	bridge_id    TEXT   NOT NULL,
	gateway      TEXT   NOT NULL,
	idem_key     TEXT   NOT NULL,
	recipient    TEXT   NOT NULL,
	body         BYTEA  NOT NULL,
	received_at  BIGINT NOT NULL,
	delivered_at BIGINT,

	PRIMARY KEY (bridge_id, gateway, idem_key)
);
CREATE INDEX cpim_inbound_pending_idx ON cpim_inbound (bridge_id, delivered_at);
