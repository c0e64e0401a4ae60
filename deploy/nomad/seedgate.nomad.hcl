# seedgate on Nomad: one job, a group per service, the same image for each.
#   nomad var put nomad/jobs/seedgate store_url=postgres://… bus_url=amqp://…
#   nomad job run -var config="$(cat deploy/k8s/base/seedgate.toml)" deploy/nomad/seedgate.nomad.hcl
# The smpp group runs once (carrier accounts allow one bind; the channels' lease guards it).

variable "image" {
  type    = string
  default = "seedgate:latest"
}

variable "config" {
  type        = string
  description = "The seedgate.toml every task runs with"
}

job "seedgate" {
  datacenters = ["dc1"]
  type        = "service"

  group "store" {
    count = 1

    network {
      port "http" { to = 8080 }
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
      name     = "seedgate-store"
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

      config {
        image        = var.image
        args         = ["run", "store"]
        ports        = ["http"]
        readonly_rootfs = true
        mount {
          type   = "tmpfs"
          target = "/data"
        }
      }

      user = "65532:65532"

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

  group "sessions" {
    count = 1

    network {
      port "http" { to = 8080 }
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
      name     = "seedgate-sessions"
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

      config {
        image        = var.image
        args         = ["run", "sessions"]
        ports        = ["http"]
        readonly_rootfs = true
        mount {
          type   = "tmpfs"
          target = "/data"
        }
      }

      user = "65532:65532"

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

  group "flows" {
    count = 1

    network {
      port "http" { to = 8080 }
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
      name     = "seedgate-flows"
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

      config {
        image        = var.image
        args         = ["run", "flows"]
        ports        = ["http"]
        readonly_rootfs = true
        mount {
          type   = "tmpfs"
          target = "/data"
        }
      }

      user = "65532:65532"

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

  group "api" {
    count = 1

    network {
      port "http" { to = 8080 }
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
      name     = "seedgate-api"
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

      config {
        image        = var.image
        args         = ["run", "api"]
        ports        = ["http"]
        readonly_rootfs = true
        mount {
          type   = "tmpfs"
          target = "/data"
        }
      }

      user = "65532:65532"

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

  group "http-channels" {
    count = 1

    network {
      port "http" { to = 8080 }
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
      name     = "seedgate-http-channels"
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

      config {
        image        = var.image
        args         = ["run", "http-channels"]
        ports        = ["http"]
        readonly_rootfs = true
        mount {
          type   = "tmpfs"
          target = "/data"
        }
      }

      user = "65532:65532"

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

  group "smpp" {
    count = 1

    network {
      port "http" { to = 8080 }
      port "smpp" {
        static = 2775
        to     = 2775
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
      name     = "seedgate-smpp"
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

      config {
        image        = var.image
        args         = ["run", "smpp"]
        ports        = ["http", "smpp"]
        readonly_rootfs = true
        mount {
          type   = "tmpfs"
          target = "/data"
        }
      }

      user = "65532:65532"

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
