-- The example database `campaign` of seed 003's campaign saga (examples/flow-003-campaign.json):
-- the campaigns service. The saga's first step creates a campaign; its compensation cancels it.
-- Loaded once by the dev instance (`spo dev`) into a database of the same name. Its routines are
-- SECURITY DEFINER with search_path pinned (every name qualified): the connection's role may only
-- EXECUTE them (README, Least privilege).

SET client_min_messages = warning;

BEGIN;

DROP SCHEMA IF EXISTS campaign CASCADE;
CREATE SCHEMA campaign;

CREATE TABLE campaign.campaign (
    id           int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type         text NOT NULL CHECK (type IN ('PROMOCIONAL', 'FIDELIZACION', 'ADQUISICION')),
    budget       numeric(12, 2) NOT NULL CHECK (budget > 0),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    affiliate    text NOT NULL,
    status       text NOT NULL DEFAULT 'ACTIVA' CHECK (status IN ('ACTIVA', 'CANCELADA')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz
);

-- Creates an active campaign.
CREATE FUNCTION campaign.create_campaign(p_name text, p_type text, p_budget numeric, p_currency text,
    p_affiliate text)
RETURNS TABLE (campaign_id int, status text) LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO campaign.campaign (name, type, budget, currency, affiliate)
    VALUES (p_name, p_type, p_budget, p_currency, p_affiliate)
    RETURNING id, status
$$;

-- Marks a campaign cancelled. Running it twice changes nothing more (a compensation may be retried).
CREATE FUNCTION campaign.cancel_campaign(p_campaign_id int)
RETURNS TABLE (campaign_id int, status text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY
    UPDATE campaign.campaign c SET status = 'CANCELADA', cancelled_at = coalesce(c.cancelled_at, now())
    WHERE c.id = p_campaign_id
    RETURNING c.id, c.status;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no campaign %', p_campaign_id USING ERRCODE = 'P0002';
    END IF;
END $$;

COMMIT;
