DROP TABLE instance_settings;
