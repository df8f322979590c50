-- Riposte schema v12: a webhook's URL is a credential (Slack and Teams put their secret in
-- its path), so it is sealed with the master key like the webhook's other secrets. `url`
-- keeps only its masked form (scheme, host, port, first path word) for listing. Sealing
-- needs the master key, which SQL does not have: the server and workers seal the rows an
-- older version stored in plain text (`url_sealed` NULL) when they start.
ALTER TABLE webhooks ADD COLUMN url_sealed TEXT;
