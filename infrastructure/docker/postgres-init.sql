-- Run once by the postgres image on an empty data volume: one database per service.
CREATE DATABASE order_db;
CREATE DATABASE payment_db;
CREATE DATABASE notification_db;
