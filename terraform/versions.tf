terraform {
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "= 8.6.0"
    }
  }

  # The provider's checksums are in .terraform.lock.hcl, written by the first `terraform init`
  # with network (the pipeline's, or `make tf-validate`): commit it (README, "Deploying").

  # State lives in a GCS bucket created once by hand (README: "Deploying"). The bucket is passed
  # at init time: terraform init -backend-config="bucket=<state bucket>"
  backend "gcs" {
    prefix = "fpass/state"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
