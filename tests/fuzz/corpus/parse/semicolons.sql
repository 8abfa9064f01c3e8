-- +goose Up
INSERT INTO t VALUES ('a;b', E'c\';d', $$;$$);
SELECT 1 /* ; */; -- ;
SELECT "x;y" FROM t;
