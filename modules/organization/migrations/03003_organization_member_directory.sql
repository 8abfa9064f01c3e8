-- A read model joining memberships with people, for the members page.

-- +goose Up
CREATE VIEW organization.member_directory AS
SELECT m.organization_id,
       o.slug AS organization_slug,
       p.id AS person_id,
       p.display_name,
       p.email,
       m.role,
       m.joined_at
  FROM organization.memberships m
  JOIN organization.organizations o ON o.id = m.organization_id
  JOIN identity.persons p ON p.id = m.person_id
 WHERE o.deleted_at IS NULL
   AND p.status <> 'deleted';

GRANT SELECT ON organization.member_directory TO organization_owner;

-- +goose Down
DROP VIEW organization.member_directory;
