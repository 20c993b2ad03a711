"""Reading models and runs: the comparison table and plots of a run
(`reports`), gradient flow through time (`gradients`), gate values step by
step (`gates`), and how well hidden representations cluster (`clusters`).

Example:
>>> from kerasseq import analysis
>>> analysis.dunn_index([[0.0], [1.0], [4.0], [5.0]], [0, 0, 1, 1])
3.0
"""

from kerasseq.analysis.clusters import cluster_report
from kerasseq.analysis.clusters import dunn_index
from kerasseq.analysis.gates import gate_trace
from kerasseq.analysis.gates import plot_gate_trace
from kerasseq.analysis.gradients import gradient_flow
from kerasseq.analysis.gradients import plot_gradient_flow
from kerasseq.analysis.reports import metrics_table
from kerasseq.analysis.reports import plot_forecast
from kerasseq.analysis.reports import plot_losses
from kerasseq.analysis.reports import plot_objective
from kerasseq.analysis.reports import plot_roc

__all__ = ["metrics_table", "plot_losses", "plot_forecast", "plot_roc", "plot_objective",
           "cluster_report", "dunn_index", "gradient_flow", "plot_gradient_flow",
           "gate_trace", "plot_gate_trace"]
