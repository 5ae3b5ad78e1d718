-- 004_blacklist: phones, emails, email domains, IPs, CIDR blocks and name
-- patterns that validate rejects (docs/blacklist.md). Written by
-- `pingpost blacklist add|remove` and by `pingpost apply` of a file with a
-- "blacklist" section (apply only adds). Values are stored normalised, as
-- common/pp_blacklist.c makes them: phones E.164 (+1XXXXXXXXXX), emails with
-- a lower-case domain, domains and names lower-case, IPs and CIDR blocks in
-- inet_ntop form (CIDR host bits cleared), so the key finds equal entries.
CREATE TABLE blacklist (
    kind        text NOT NULL
                CHECK (kind IN ('phone', 'email', 'email_domain', 'ip', 'cidr', 'name')),
    value       text NOT NULL CHECK (value <> ''),
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, value)
);

-- Blacklist values are personal data (a consumer's phone, email, IP or
-- name): the analyst role reads neither the table nor the "blacklist"
-- section that apply keeps whole in market_sections (001 granted that
-- table; its other sections are readable through market_sections_public).
-- Analysts see how many entries of each kind there are.
REVOKE ALL ON blacklist FROM pingpost_analyst;
REVOKE SELECT ON market_sections FROM pingpost_analyst;

CREATE VIEW market_sections_public AS
    SELECT name, spec, updated_at FROM market_sections WHERE name <> 'blacklist';
GRANT SELECT ON market_sections_public TO pingpost_analyst;

CREATE VIEW blacklist_counts AS
    SELECT kind, count(*) AS entries, max(created_at) AS last_added FROM blacklist GROUP BY kind;
GRANT SELECT ON blacklist_counts TO pingpost_analyst;
