-- The recorded workload of the throwaway MariaDB (run by scripts/db.sh as `app` in schema
-- `shop`); scripts/db.sh appends the repeated statements.
CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL);
CREATE TABLE orders (id BIGINT PRIMARY KEY AUTO_INCREMENT, customer_id INT NOT NULL, amount DECIMAL(10,2) NOT NULL, note VARCHAR(64));
CREATE TABLE accounts (id INT PRIMARY KEY, balance DECIMAL(10,2) NOT NULL) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('user', seq, '@example.org') FROM seq_1_to_20000;
INSERT INTO orders (customer_id, amount, note) SELECT 1 + (seq % 20000), seq % 100, MD5(seq) FROM seq_1_to_200000;
INSERT INTO accounts SELECT seq, 100 FROM seq_1_to_100;
