-- v2: Inbound messages carry their conversation, so that conversations are delivered in parallel
-- Rows accepted before this upgrade share the lane '' and are delivered one after another, as before.
ALTER TABLE cpim_inbound ADD COLUMN lane TEXT NOT NULL DEFAULT '';
CREATE INDEX cpim_inbound_lane_idx ON cpim_inbound (bridge_id, lane, seq) WHERE delivered_at IS NULL;
