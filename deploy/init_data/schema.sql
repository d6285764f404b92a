-- The framework's own tables in the MySQL database that holds vnpy's bars
-- (VNPY_DATABASE_DATABASE). vnpy_mysql creates its own tables (dbbardata, ...).
--
-- Run once on a new database: the MySQL container runs it from
-- /docker-entrypoint-initdb.d on first start, or by hand:
--     mysql -u USER -p DATABASE < deploy/init_data/schema.sql
-- Running it again changes nothing. Plain MySQL 8 syntax (MariaDB accepts it too). The programs create any missing table
-- themselves on first use (SQLite always works that way), so this file is for
-- setting up a server ahead of time with a user that may not create tables.
--
-- Schema changes are numbered migrations (src/strategy/infrastructure/persistence/schema.py),
-- applied by the programs on start and listed in schema_migrations. This file is the
-- schema as of the latest migration, and lists every migration it already contains.

CREATE TABLE IF NOT EXISTS `strategy_state` (
    `id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY,
    `strategy_name` VARCHAR(128) NOT NULL,
    `schema_version` INTEGER NOT NULL,            -- version of the state's JSON layout (MigrationChain)
    `saved_at` DATETIME(6) NOT NULL,              -- exchange time (Asia/Shanghai), like vnpy's bars
    `checksum` VARCHAR(64) NOT NULL,              -- sha256 hex of payload
    `payload` LONGBLOB NOT NULL,                  -- UTF-8 JSON {"schema_version": N, "state": {...}}
    `payload_size` BIGINT,                        -- bytes of payload (migration 2)
    INDEX `strategy_state_strategy_name_id` (`strategy_name`, `id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `monitor_signal_snapshot` (
    `id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY,
    `row_key` VARCHAR(32) NOT NULL,               -- random; makes a retried batch insert idempotent
    `strategy_name` VARCHAR(128) NOT NULL,        -- the dashboard's <variant>
    `bar_time` DATETIME(6) NOT NULL,
    `recorded_at` DATETIME(6) NOT NULL,
    `position_count` INTEGER,
    `delta` DOUBLE PRECISION,
    `gamma` DOUBLE PRECISION,
    `vega` DOUBLE PRECISION,
    `theta` DOUBLE PRECISION,
    `pnl` DOUBLE PRECISION,
    `latest_signal` VARCHAR(64),
    `payload` LONGTEXT NOT NULL,                  -- JSON: positions, greeks, pnl, signals, ...
    UNIQUE INDEX `monitor_signal_snapshot_row_key` (`row_key`),
    INDEX `monitor_signal_snapshot_strategy_name_bar_time` (`strategy_name`, `bar_time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `strategy_event` (
    `id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY,
    `row_key` VARCHAR(32) NOT NULL,
    `strategy_name` VARCHAR(128) NOT NULL,
    `event_type` VARCHAR(64) NOT NULL,            -- the DomainEvent class name
    `occurred_at` DATETIME(6) NOT NULL,
    `recorded_at` DATETIME(6) NOT NULL,
    `payload` LONGTEXT NOT NULL,                  -- JSON of the event's fields
    UNIQUE INDEX `strategy_event_row_key` (`row_key`),
    INDEX `strategy_event_strategy_name_occurred_at` (`strategy_name`, `occurred_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `option_market_statistic` (   -- migration 3
    `id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY,
    `market` VARCHAR(32) NOT NULL,                -- US_SECURITY, US_INDEX, HK_SECURITY, HK_INDEX, CBOE_EQUITY, ...
    `data_type` VARCHAR(16) NOT NULL,             -- VOLUME or OPEN_INTEREST
    `trade_date` DATE NOT NULL,
    `call_value` BIGINT NOT NULL,
    `put_value` BIGINT NOT NULL,
    `total_value` BIGINT NOT NULL,
    `ratio` DOUBLE PRECISION,                     -- put / call; NULL when call is 0
    `source` VARCHAR(16) NOT NULL,                -- futu, cboe
    `fetched_at` DATETIME(6) NOT NULL,
    UNIQUE INDEX `option_market_statistic_market_data_type_trade_date` (`market`, `data_type`, `trade_date`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `option_market_statistic_checkpoint` (   -- migration 3: completed backfill windows
    `id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY,
    `market` VARCHAR(32) NOT NULL,
    `data_type` VARCHAR(16) NOT NULL,
    `window_start` DATE NOT NULL,
    `window_end` DATE NOT NULL,
    `row_count` INTEGER NOT NULL,
    `completed_at` DATETIME(6) NOT NULL,
    UNIQUE INDEX `option_market_statistic_checkpoint_market_data_type_wind_490c7b9`
        (`market`, `data_type`, `window_start`, `window_end`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `hk_trade_tick` (           -- migration 4: HK trades from AllTick
    `code` VARCHAR(16) NOT NULL,                  -- AllTick code, 700.HK
    `seq` BIGINT NOT NULL,                        -- the vendor's per-code sequence number
    `tick_time` DATETIME(6) NOT NULL,             -- exchange time (Hong Kong = UTC+8)
    `received_at` DATETIME(6) NOT NULL,           -- when the client read it (same clock)
    `price` DOUBLE PRECISION NOT NULL,
    `volume` DOUBLE PRECISION NOT NULL,
    `turnover` DOUBLE PRECISION NOT NULL,
    `trade_direction` SMALLINT NOT NULL,          -- 0 unknown, 1 buy, 2 sell
    PRIMARY KEY (`code`, `seq`),
    INDEX `hk_trade_tick_code_tick_time` (`code`, `tick_time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `hk_depth_snapshot` (
    `code` VARCHAR(16) NOT NULL,
    `seq` BIGINT NOT NULL,
    `tick_time` DATETIME(6) NOT NULL,
    `received_at` DATETIME(6) NOT NULL,
    `bid_price_1` DOUBLE PRECISION,
    `ask_price_1` DOUBLE PRECISION,
    `bids` LONGTEXT NOT NULL,                     -- JSON [[price, volume], ...], best first
    `asks` LONGTEXT NOT NULL,
    PRIMARY KEY (`code`, `seq`),
    INDEX `hk_depth_snapshot_code_tick_time` (`code`, `tick_time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `hk_seq_gap` (
    `id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY,
    `code` VARCHAR(16) NOT NULL,
    `stream` VARCHAR(8) NOT NULL,                 -- trade
    `first_missing` BIGINT NOT NULL,
    `last_missing` BIGINT NOT NULL,
    `detected_at` DATETIME(6) NOT NULL,
    `filled_count` INTEGER NOT NULL,
    `cause` VARCHAR(8) NOT NULL,                  -- feed: never received; overflow: dropped by the full buffer
    UNIQUE INDEX `hk_seq_gap_code_stream_first_missing` (`code`, `stream`, `first_missing`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `hk_feed_checkpoint` (
    `code` VARCHAR(16) NOT NULL,
    `stream` VARCHAR(8) NOT NULL,
    `last_seq` BIGINT NOT NULL,
    `last_tick_time` DATETIME(6) NOT NULL,
    `updated_at` DATETIME(6) NOT NULL,
    PRIMARY KEY (`code`, `stream`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `strategy_control` (        -- migration 5: the kill switch (python -m src.main.control)
    `id` BIGINT AUTO_INCREMENT NOT NULL PRIMARY KEY,
    `strategy_name` VARCHAR(128) NOT NULL,        -- name, name@paper or name@replay
    `command` VARCHAR(16) NOT NULL,               -- flatten, stop or resume
    `requested_at` DATETIME(6) NOT NULL,          -- exchange time (Asia/Shanghai)
    `note` VARCHAR(200) NOT NULL,
    INDEX `strategy_control_strategy_name_id` (`strategy_name`, `id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS `schema_migrations` (
    `version` INTEGER NOT NULL PRIMARY KEY,
    `description` VARCHAR(200) NOT NULL,
    `applied_at` DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT IGNORE INTO `schema_migrations` (`version`, `description`, `applied_at`) VALUES
    (1, 'baseline: strategy_state, monitor_signal_snapshot, strategy_event', NOW(6)),
    (2, 'strategy_state.payload_size: list snapshot sizes without reading payloads', NOW(6)),
    (3, 'option_market_statistic and its backfill checkpoints (Futu statistics, Cboe history)', NOW(6)),
    (4, 'hk_trade_tick, hk_depth_snapshot, hk_seq_gap, hk_feed_checkpoint: the HK tick feed', NOW(6)),
    (5, 'strategy_control: the kill switch''s commands (python -m src.main.control)', NOW(6));
