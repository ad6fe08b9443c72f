package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	poolOpen    = prometheus.NewDesc("fortress_db_open_connections", "Connections to the database, in use or idle.", nil, nil)
	poolInUse   = prometheus.NewDesc("fortress_db_in_use_connections", "Connections running a query or transaction now.", nil, nil)
	poolIdle    = prometheus.NewDesc("fortress_db_idle_connections", "Open connections waiting for work.", nil, nil)
	poolMax     = prometheus.NewDesc("fortress_db_max_open_connections", "The most connections the pool opens.", nil, nil)
	poolWaits   = prometheus.NewDesc("fortress_db_wait_total", "Times a query waited for a free connection.", nil, nil)
	poolWaitSec = prometheus.NewDesc("fortress_db_wait_seconds_total", "Total time queries waited for a free connection.", nil, nil)
)

// poolCollector reads the pool's state once per scrape, so that all its values come from one moment.
type poolCollector struct{ stats func() PoolStats }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolOpen, poolInUse, poolIdle, poolMax, poolWaits, poolWaitSec} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(s.Open))
	ch <- prometheus.MustNewConstMetric(poolInUse, prometheus.GaugeValue, float64(s.InUse))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.Idle))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxOpen))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(poolWaitSec, prometheus.CounterValue, s.WaitDuration.Seconds())
}
