-- Riposte schema v11: what a long stage is doing now (an EBS snapshot's percentage, the
-- volume being read), shown with the investigation's jobs in the API.
ALTER TABLE jobs ADD COLUMN progress TEXT;
