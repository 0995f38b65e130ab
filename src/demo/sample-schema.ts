// The demo database: a small shop, enough to try reads, held writes and a denied DROP.

export const SAMPLE_SCHEMA = `
CREATE TABLE customers (
  id serial PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL UNIQUE
);
CREATE TABLE orders (
  id serial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  status text NOT NULL DEFAULT 'open',
  total_cents int NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (name, email) VALUES
  ('Ada Lovelace', 'ada@example.com'),
  ('Grace Hopper', 'grace@example.com'),
  ('Edsger Dijkstra', 'edsger@example.com');
INSERT INTO orders (customer_id, status, total_cents) VALUES
  (1, 'open', 1250), (1, 'shipped', 9900), (2, 'open', 4200),
  (2, 'cancelled', 100), (3, 'shipped', 31400);
`;
