terraform {
  # 1.5 is the oldest release with every feature used here (check blocks are not used; optional object
  # attributes and the aws_vpc_security_group_*_rule resources are).
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State holds the generated JWT key and database password in clear text: keep it in an encrypted,
  # access-controlled, versioned backend, never on a laptop or in git. For example:
  #
  # backend "s3" {
  #   bucket       = "example-terraform-state"
  #   key          = "fortress/aws.tfstate"
  #   region       = "eu-west-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(var.tags, {
      Application = "fortress"
      Stack       = var.name
      ManagedBy   = "terraform"
    })
  }
}
