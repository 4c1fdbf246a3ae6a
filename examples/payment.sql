-- The example database `payment` of seed 003's campaign saga (examples/flow-003-campaign.json):
-- the payments service. The saga's second step charges the campaign's budget; its compensation
-- reverts the payment. A row in payment.provider_outage makes reverting fail, as a payment
-- provider that is down would: the saga then ends compensation_failed until someone retries it.
-- Loaded once by the dev instance (`spo dev`) into a database of the same name. Its routines are
-- SECURITY DEFINER with search_path pinned (every name qualified): the connection's role may only
-- EXECUTE them (README, Least privilege).

SET client_min_messages = warning;

BEGIN;

DROP SCHEMA IF EXISTS payment CASCADE;
CREATE SCHEMA payment;

CREATE TABLE payment.payment (
    id          int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id int NOT NULL,
    affiliate   text NOT NULL,
    amount      numeric(12, 2) NOT NULL CHECK (amount > 0),
    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reference   text NOT NULL,
    status      text NOT NULL DEFAULT 'PROCESADO' CHECK (status IN ('PROCESADO', 'REVERTIDO')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    reverted_at timestamptz
);

-- While it holds a row, the provider "is down": revert_payment fails.
CREATE TABLE payment.provider_outage (since timestamptz NOT NULL DEFAULT now());

-- Charges a campaign's budget.
CREATE FUNCTION payment.charge_payment(p_campaign_id int, p_affiliate text, p_amount numeric, p_currency text,
    p_reference text)
RETURNS TABLE (payment_id int, status text) LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO payment.payment (campaign_id, affiliate, amount, currency, reference)
    VALUES (p_campaign_id, p_affiliate, p_amount, p_currency, p_reference)
    RETURNING id, status
$$;

-- Reverts a payment; idempotent. Fails while the provider is down.
CREATE FUNCTION payment.revert_payment(p_payment_id int)
RETURNS TABLE (payment_id int, status text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM payment.provider_outage) THEN
        RAISE EXCEPTION 'the payment provider is unavailable; payment % not reverted', p_payment_id
            USING ERRCODE = 'P0001';
    END IF;
    RETURN QUERY
    UPDATE payment.payment p SET status = 'REVERTIDO', reverted_at = coalesce(p.reverted_at, now())
    WHERE p.id = p_payment_id
    RETURNING p.id, p.status;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no payment %', p_payment_id USING ERRCODE = 'P0002';
    END IF;
END $$;

COMMIT;
