"""Reading models and runs: the comparison table and plots of a run
(`reports`), gradient flow through time (`gradients`), gate values step by
step (`gates`), final hidden states (`states`) and how well they cluster
(`clusters`); `commands` runs these on a run directory (`kerasseq analyze`).

Example:
>>> from kerasseq import analysis
>>> analysis.dunn_index([[0.0], [1.0], [4.0], [5.0]], [0, 0, 1, 1])
3.0
"""

from kerasseq.analysis.clusters import cluster_report
from kerasseq.analysis.clusters import dunn_index
from kerasseq.analysis.clusters import plot_cluster_report
from kerasseq.analysis.gates import gate_trace
from kerasseq.analysis.gates import plot_gate_trace
from kerasseq.analysis.gradients import gradient_flow
from kerasseq.analysis.gradients import plot_gradient_flow
from kerasseq.analysis.reports import metrics_table
from kerasseq.analysis.reports import plot_forecast
from kerasseq.analysis.reports import plot_losses
from kerasseq.analysis.reports import plot_objective
from kerasseq.analysis.reports import plot_roc
from kerasseq.analysis.states import final_states

__all__ = ["metrics_table", "plot_losses", "plot_forecast", "plot_roc", "plot_objective",
           "cluster_report", "dunn_index", "plot_cluster_report", "final_states", "gradient_flow", "plot_gradient_flow",
           "gate_trace", "plot_gate_trace"]
