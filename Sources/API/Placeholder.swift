import Hummingbird
import Prometheus
enum APIPlaceholder {}
