DROP TABLE group_report_closures;
