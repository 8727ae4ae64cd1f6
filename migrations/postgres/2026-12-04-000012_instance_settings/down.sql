DROP TABLE instance_allowed_domains;
DROP TABLE instance_settings;
