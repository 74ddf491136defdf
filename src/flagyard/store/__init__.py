"""SQLAlchemy adapters: tables, repositories, unit of work, migrations."""
