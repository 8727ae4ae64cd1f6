DROP TABLE admin_log;
DROP TABLE instance_domain_blocks;
