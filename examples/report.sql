-- The example database `report` of seed 003's campaign saga (examples/flow-003-campaign.json):
-- the reporting service. The saga's last step generates the campaign's report; an unknown report
-- type is refused (RAISE), which makes the saga revert the payment and cancel the campaign.
-- Loaded once by the dev instance (`spo dev`) into a database of the same name. Its routines are
-- SECURITY DEFINER with search_path pinned (every name qualified): the connection's role may only
-- EXECUTE them (README, Least privilege).

SET client_min_messages = warning;

BEGIN;

DROP SCHEMA IF EXISTS report CASCADE;
CREATE SCHEMA report;

CREATE TABLE report.report (
    id           int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id  int NOT NULL,
    type         text NOT NULL,
    period_from  date NOT NULL,
    period_to    date NOT NULL CHECK (period_to >= period_from),
    status       text NOT NULL DEFAULT 'GENERADO' CHECK (status IN ('GENERADO', 'CANCELADO')),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Generates a report of a known type.
CREATE FUNCTION report.generate_report(p_campaign_id int, p_type text, p_from date, p_to date)
RETURNS TABLE (report_id int, status text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_type NOT IN ('metricas_generales', 'conversiones', 'audiencia') THEN
        RAISE EXCEPTION 'unknown report type %', p_type
            USING ERRCODE = 'P0001', HINT = 'use metricas_generales, conversiones or audiencia';
    END IF;
    RETURN QUERY
    INSERT INTO report.report (campaign_id, type, period_from, period_to)
    VALUES (p_campaign_id, p_type, p_from, p_to)
    RETURNING id, report.status;
END $$;

-- Cancels a report; idempotent.
CREATE FUNCTION report.cancel_report(p_report_id int)
RETURNS TABLE (report_id int, status text) LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    UPDATE report.report SET status = 'CANCELADO' WHERE id = p_report_id RETURNING id, status
$$;

COMMIT;
