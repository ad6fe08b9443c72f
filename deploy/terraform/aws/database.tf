# Optional RDS PostgreSQL (var.create_database): encrypted with the stack's key, in the private subnets,
# not publicly accessible, reachable only from the application's security group, TLS enforced.

resource "random_password" "db" {
  count = var.create_database ? 1 : 0

  # Letters and digits only: the password goes into a URL without percent-encoding.
  length  = 40
  special = false
}

resource "aws_db_subnet_group" "this" {
  count = var.create_database ? 1 : 0

  name_prefix = "${var.name}-"
  description = "Fortress ${var.name}: private subnets only"
  subnet_ids  = aws_subnet.private[*].id
}

resource "aws_security_group" "db" {
  count = var.create_database ? 1 : 0

  name_prefix = "${var.name}-db-"
  description = "Fortress database: PostgreSQL from the application instance only; no egress"
  vpc_id      = aws_vpc.this.id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "db_from_app" {
  count = var.create_database ? 1 : 0

  security_group_id            = aws_security_group.db[0].id
  description                  = "PostgreSQL from the application instance"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_vpc_security_group_egress_rule" "app_to_db" {
  count = var.create_database ? 1 : 0

  security_group_id            = aws_security_group.app.id
  description                  = "PostgreSQL to the database"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db[0].id
}

resource "aws_db_parameter_group" "this" {
  count = var.create_database ? 1 : 0

  name_prefix = "${var.name}-pg${var.db_engine_version}-"
  family      = "postgres${var.db_engine_version}"
  description = "Fortress ${var.name}: TLS required, connections logged"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_connections"
    value = "1"
  }
  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  count = var.create_database ? 1 : 0

  identifier_prefix = "${var.name}-"
  engine            = "postgres"
  engine_version    = var.db_engine_version
  instance_class    = var.db_instance_class

  db_name  = "fortress"
  username = "fortress"
  password = random_password.db[0].result

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_allocated_storage_gb * 5
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.this.arn

  db_subnet_group_name   = aws_db_subnet_group.this[0].name
  vpc_security_group_ids = [aws_security_group.db[0].id]
  publicly_accessible    = false
  multi_az               = var.db_multi_az
  parameter_group_name   = aws_db_parameter_group.this[0].name

  backup_retention_period    = var.db_backup_retention_days
  copy_tags_to_snapshot      = true
  deletion_protection        = var.deletion_protection
  skip_final_snapshot        = false
  final_snapshot_identifier  = "${var.name}-final"
  auto_minor_version_upgrade = true

  iam_database_authentication_enabled = true
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = aws_kms_key.this.arn
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  monitoring_interval                 = 0
  apply_immediately                   = false
}
