# The application host: one EC2 instance in a private subnet, without SSH (operators use SSM Session
# Manager), running the pinned Fortress image under systemd. Its IAM role may read exactly one secret
# and write exactly one log group, plus the SSM agent's own permissions.

locals {
  log_group_name = "/fortress/${var.name}/app"

  # Non-secret configuration of the container. Secrets reach it only as files (*_FILE), fetched at each
  # start from Secrets Manager into /run (memory), never into user data, the environment or the disk.
  app_environment = merge(var.extra_environment, {
    FORTRESS_ENV        = "production"
    FORTRESS_ADDR       = ":${var.app_port}"
    FORTRESS_LOG_FORMAT = "json"
    ALLOWED_HOSTS       = join(",", var.domain_names)
    AUTO_MIGRATE        = "false"
    JWT_SECRET_KEY_FILE = "/run/secrets/jwt_secret_key"
    }, var.create_database ? {
    DATABASE_URL_FILE = "/run/secrets/database_url"
  } : {})
}

# --- The secret ----------------------------------------------------------------------------------------

resource "random_password" "jwt" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "app" {
  name_prefix             = "${var.name}/app-"
  description             = "Fortress ${var.name}: JWT signing key and database URL (JSON)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "app" {
  secret_id = aws_secretsmanager_secret.app.id
  secret_string = jsonencode(merge(
    { jwt_secret_key = random_password.jwt.result },
    var.create_database ? {
      # verify-full against the RDS CA bundle that the instance installs at boot.
      database_url = format(
        "postgres://%s:%s@%s/%s?sslmode=verify-full&sslrootcert=/etc/fortress/rds-ca.pem",
        aws_db_instance.this[0].username,
        random_password.db[0].result,
        aws_db_instance.this[0].endpoint,
        aws_db_instance.this[0].db_name,
      )
    } : {},
  ))
}

# --- Logs ----------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "app" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

# --- IAM -----------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "app_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "app" {
  name_prefix        = "${var.name}-app-"
  assume_role_policy = data.aws_iam_policy_document.app_assume.json
}

data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ReadItsOneSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.app.arn]
  }

  statement {
    sid       = "DecryptThatSecretOnly"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.aws_region}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SecretARN"
      values   = [aws_secretsmanager_secret.app.arn]
    }
  }

  statement {
    sid       = "WriteItsLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.app.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "app" {
  name   = "secret-and-logs"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.app.json
}

# Session Manager instead of SSH: no key pair, no port 22, every session authenticated by IAM and
# recorded in CloudTrail.
resource "aws_iam_role_policy_attachment" "app_ssm" {
  role       = aws_iam_role.app.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "app" {
  name_prefix = "${var.name}-app-"
  role        = aws_iam_role.app.name
}

# --- Network access ------------------------------------------------------------------------------------

resource "aws_security_group" "app" {
  name_prefix = "${var.name}-app-"
  description = "Fortress instance: the app port from the ALB only; no SSH"
  vpc_id      = aws_vpc.this.id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  security_group_id            = aws_security_group.app.id
  description                  = "The API port, from the load balancer only"
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.alb.id
}

# Outbound HTTPS through the NAT gateway: the image registry, package repositories and the AWS APIs
# (Secrets Manager, CloudWatch Logs, SSM). VPC interface endpoints could replace the AWS part.
#trivy:ignore:AVD-AWS-0104
resource "aws_vpc_security_group_egress_rule" "app_https_out" {
  security_group_id = aws_security_group.app.id
  description       = "HTTPS to the registry, packages and AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- The instance --------------------------------------------------------------------------------------

data "aws_ssm_parameter" "ami" {
  name = var.ami_ssm_parameter
}

resource "aws_instance" "app" {
  ami                         = data.aws_ssm_parameter.ami.insecure_value
  instance_type               = var.instance_type
  subnet_id                   = aws_subnet.private[0].id
  vpc_security_group_ids      = [aws_security_group.app.id]
  iam_instance_profile        = aws_iam_instance_profile.app.name
  associate_public_ip_address = false
  monitoring                  = true
  ebs_optimized               = true

  # IMDSv2 only, and a hop limit of 1: the host's agents get credentials, containers on the Docker
  # bridge (one hop further) cannot reach the metadata service at all.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    encrypted             = true
    kms_key_id            = aws_kms_key.this.arn
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    delete_on_termination = true
  }

  # No secret in here: user data is readable by anyone allowed ec2:DescribeInstanceAttribute.
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    region          = var.aws_region
    secret_arn      = aws_secretsmanager_secret.app.arn
    log_group       = aws_cloudwatch_log_group.app.name
    image           = var.container_image
    app_port        = var.app_port
    environment     = local.app_environment
    create_database = var.create_database
  })
  # A new image digest or configuration replaces the instance (a brief outage with one instance; use
  # an Auto Scaling group with instance refresh for zero-downtime deploys).
  user_data_replace_on_change = true

  tags = { Name = "${var.name}-app" }

  lifecycle {
    # A newer AMI is picked up at the next replacement, not by surprise on an unrelated apply.
    ignore_changes = [ami]
  }

  depends_on = [
    aws_secretsmanager_secret_version.app,
    aws_iam_role_policy.app,
    aws_route.private_nat,
  ]
}
