# seedgate on Nomad: one job, a group per service, the same image for each.
#   nomad var put nomad/jobs/seedgate store_url=postgres://… bus_url=amqp://…
#   nomad job run -var config="$(cat deploy/k8s/base/seedgate.toml)" deploy/nomad/seedgate.nomad.hcl
# Every group runs once. The smpp group also listens for partners' SMPP binds on 2775 (carrier
# accounts allow one bind: keep it at one, and set the channels' `lease = true`).

variable "image" {
  type    = string
  default = "seedgate:latest"
}

variable "config" {
  type        = string
  description = "The seedgate.toml every task runs with"
}

locals {
  # Each service and the static ports it listens on besides HTTP (8080).
  services = {
    "store"         = []
    "sessions"      = []
    "flows"         = []
    "api"           = []
    "http-channels" = []
    "smpp"          = [2775]
  }
}

job "seedgate" {
  datacenters = ["dc1"]
  type        = "service"

  dynamic "group" {
    for_each = local.services
    labels   = [group.key]

    content {
      count = 1

      network {
        port "http" {
          to = 8080
        }
        dynamic "port" {
          for_each = group.value
          labels   = ["smpp"]
          content {
            static = port.value
            to     = port.value
          }
        }
      }

      restart {
        attempts = 10
        interval = "5m"
        delay    = "5s"
        mode     = "delay"
      }

      update {
        max_parallel     = 1
        min_healthy_time = "10s"
        healthy_deadline = "2m"
        auto_revert      = true
      }

      service {
        name     = "seedgate-${group.key}"
        port     = "http"
        provider = "nomad"
        check {
          type     = "http"
          path     = "/readyz"
          interval = "10s"
          timeout  = "3s"
        }
      }

      task "seedgate" {
        driver       = "docker"
        kill_signal  = "SIGTERM"
        kill_timeout = "30s"
        user         = "65532:65532"

        config {
          image           = var.image
          args            = ["run", group.key]
          ports           = concat(["http"], [for p in group.value : "smpp"])
          readonly_rootfs = true
          mount {
            type   = "tmpfs"
            target = "/data"
          }
        }

        env {
          SEEDGATE_CONFIG           = "/local/seedgate.toml"
          SEEDGATE_FILE__STORE__URL = "/secrets/store_url"
          SEEDGATE_FILE__BUS__URL   = "/secrets/bus_url"
        }

        template {
          data        = var.config
          destination = "local/seedgate.toml"
        }

        template {
          data        = "{{ with nomadVar \"nomad/jobs/seedgate\" }}{{ .store_url }}{{ end }}"
          destination = "secrets/store_url"
        }

        template {
          data        = "{{ with nomadVar \"nomad/jobs/seedgate\" }}{{ .bus_url }}{{ end }}"
          destination = "secrets/bus_url"
        }

        resources {
          cpu    = 200
          memory = 256
        }
      }
    }
  }
}
