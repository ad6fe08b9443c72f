# Inputs of the Fortress AWS stack. Only certificate_arn, container_image and domain_names have no
# default: they are specific to each deployment and guessing them would be unsafe.

variable "name" {
  description = "Prefix for every resource name; also the Stack tag. Lower-case letters, digits and hyphens."
  type        = string
  default     = "fortress"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2 to 21 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "aws_region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "tags" {
  description = "Extra tags for every resource (cost centre, owner, ...)."
  type        = map(string)
  default     = {}
}

# --- Network -------------------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "CIDR block of the VPC. Public and private /24 subnets are carved from it, one of each per availability zone."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of /20 or larger."
  }
}

variable "az_count" {
  description = "Number of availability zones to span (the ALB needs at least 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4."
  }
}

variable "alb_ingress_cidrs" {
  description = "Client networks allowed to reach the load balancer on ports 80 and 443. The default is the whole internet, as for any public website; narrow it for an internal service."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# --- TLS and host names --------------------------------------------------------------------------------

variable "certificate_arn" {
  description = "ARN of the ACM certificate (in aws_region) served by the HTTPS listener; it must cover every entry of domain_names."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener. The default allows TLS 1.3 and 1.2 with forward-secret AEAD suites only."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "hsts_header" {
  description = "Strict-Transport-Security value the HTTPS listener adds to responses. Add \"; preload\" only once every subdomain serves HTTPS."
  type        = string
  default     = "max-age=31536000; includeSubDomains"
}

variable "domain_names" {
  description = "Host names clients use (e.g. [\"api.example.com\"]). They become the API's ALLOWED_HOSTS; point their DNS at the alb_dns_name output."
  type        = list(string)

  validation {
    condition     = length(var.domain_names) > 0 && alltrue([for d in var.domain_names : can(regex("^(\\*\\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", d))])
    error_message = "domain_names must list at least one lower-case DNS name (\"*.example.com\" allowed)."
  }
}

# --- Application ---------------------------------------------------------------------------------------

variable "container_image" {
  description = "Fortress image pinned by digest, e.g. ghcr.io/fortress-dev/fortress@sha256:<64 hex>, as signed and attested by the release pipeline."
  type        = string

  validation {
    condition     = can(regex("@sha256:[0-9a-f]{64}$", var.container_image))
    error_message = "container_image must be pinned by digest (…@sha256:<64 hex digits>); a tag can be re-pointed."
  }
}

variable "app_port" {
  description = "Port the API listens on inside the instance (FORTRESS_ADDR=:PORT); only the ALB can reach it."
  type        = number
  default     = 8000
}

variable "instance_type" {
  description = "EC2 instance type of the application host (x86_64; change ami_ssm_parameter too for Graviton)."
  type        = string
  default     = "t3.small"
}

variable "ami_ssm_parameter" {
  description = "Public SSM parameter that names the AMI: the latest Amazon Linux 2023 by default (SSM agent and Docker available)."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

variable "root_volume_size_gb" {
  description = "Size of the encrypted root volume in GiB (holds Docker images and, without RDS, the SQLite database)."
  type        = number
  default     = 20
}

variable "log_retention_days" {
  description = "Retention of the application and VPC flow log groups, in days."
  type        = number
  default     = 90
}

variable "extra_environment" {
  description = "Additional non-secret environment variables for the API container (e.g. FORTRESS_LOG_LEVEL). Secrets do not belong here: they go to the Secrets Manager secret."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : !can(regex("(?i)(SECRET|PASSWORD|TOKEN|KEY|DATABASE_URL)", k)) || endswith(k, "_FILE")])
    error_message = "extra_environment must not carry secrets; store them in the Secrets Manager secret instead."
  }
}

# --- Database ------------------------------------------------------------------------------------------

variable "create_database" {
  description = "Create an RDS PostgreSQL instance (encrypted, private, not publicly accessible) and point the API at it. false: the API uses SQLite on the instance's encrypted volume (single instance only)."
  type        = bool
  default     = true
}

variable "db_engine_version" {
  description = "PostgreSQL major version for RDS."
  type        = string
  default     = "17"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage_gb" {
  description = "Initial RDS storage in GiB (storage autoscaling grows it up to 5x)."
  type        = number
  default     = 20
}

variable "db_multi_az" {
  description = "Run RDS with a synchronous standby in a second availability zone."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery window)."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Protect the ALB and the database from deletion (terraform destroy then fails until it is turned off)."
  type        = bool
  default     = true
}
