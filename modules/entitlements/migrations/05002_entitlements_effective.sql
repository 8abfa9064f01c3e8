-- One place that answers "may this organization use this feature?".

-- +goose Up
CREATE VIEW entitlements.effective_features AS
WITH from_plan AS (
    SELECT s.organization_id, pf.feature_key, pf.limit_value
      FROM billing.subscriptions s
      JOIN entitlements.plan_features pf ON pf.plan_id = s.plan_id
     WHERE s.status IN ('trialing', 'active', 'past_due')
)
SELECT coalesce(o.organization_id, p.organization_id) AS organization_id,
       coalesce(o.feature_key, p.feature_key) AS feature_key,
       p.limit_value
  FROM from_plan p
  FULL JOIN (SELECT * FROM entitlements.overrides
              WHERE expires_at IS NULL OR expires_at > now()) o
         ON o.organization_id = p.organization_id AND o.feature_key = p.feature_key
 WHERE coalesce(o.enabled, true);

-- +goose StatementBegin
CREATE FUNCTION entitlements.has_feature(p_organization uuid, p_feature text)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1
          FROM entitlements.effective_features
         WHERE organization_id = p_organization
           AND feature_key = p_feature
    );
$$;
-- +goose StatementEnd

GRANT SELECT ON entitlements.effective_features TO entitlements_owner;
GRANT EXECUTE ON FUNCTION entitlements.has_feature(uuid, text) TO entitlements_owner;

-- +goose Down
DROP FUNCTION entitlements.has_feature(uuid, text);
DROP VIEW entitlements.effective_features;
